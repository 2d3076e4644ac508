import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The FastAPI service (atmosphere serve) listens here during development.
const API_TARGET = 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  build: {
    // The service serves these files: index.html at "/" and bundles at "/assets/*".
    outDir: '../atmosphere/static',
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/v1': API_TARGET,
      '/health': API_TARGET,
      '/ws': { target: API_TARGET, ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
