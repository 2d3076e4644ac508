import { FolderOpen, TriangleAlert } from 'lucide-react';
import type { Project } from '../api/types';
import './ProjectList.css';

/** LlamaFarm projects: default model and models, or the validation error that keeps one out of routing. */
export default function ProjectList({ projects }: { projects: Project[] }) {
  if (!projects.length) return null;
  return (
    <section className="integration-section">
      <h3 className="integration-section-title">
        <FolderOpen size={15} /> Projects <span className="integration-count">{projects.length}</span>
      </h3>
      <ul className="integration-projects">
        {projects.map((project) => {
          const key = `${project.namespace}/${project.name}`;
          const invalid = project.validation_error !== null;
          return (
            <li key={key} className={`integration-project${invalid ? ' invalid' : ''}`} data-testid="project" data-valid={String(!invalid)}>
              <code className="integration-project-name">{key}</code>
              {project.default_model ? <span className="integration-project-default">default: {project.default_model}</span> : null}
              {project.models.length ? <span className="integration-project-models">models: {project.models.join(', ')}</span> : null}
              {invalid ? (
                <span className="integration-project-error" data-testid="project-error">
                  <TriangleAlert size={13} aria-hidden="true" /> Not routed: {project.validation_error}
                </span>
              ) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
