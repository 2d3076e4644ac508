/** A list of choices as the <option>s of a select. */
export function Options({ options }: { options: readonly { id: string; label: string }[] }) {
  return (
    <>
      {options.map((option) => (
        <option key={option.id} value={option.id}>
          {option.label}
        </option>
      ))}
    </>
  );
}

/** What the service said when a form's or a button's action failed, as an alert; nothing while all is well. */
export function FormError({ error, testId, wide = false }: { error: string | null; testId?: string; wide?: boolean }) {
  if (!error) return null;
  return (
    <p className={wide ? 'form-error wide' : 'form-error'} role="alert" data-testid={testId}>
      {error}
    </p>
  );
}
