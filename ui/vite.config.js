// Vite builds ui/src into ui/dist (hashed asset names); tools/embed.mjs turns dist/ into C++.
// JSX compiles to Preact via esbuild's automatic runtime: no framework plugin needed.
import { defineConfig } from 'vite';

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev`: the API comes from a running otlake (OTLAKE_URL, default :4318).
    proxy: Object.fromEntries(['/api', '/healthz', '/v3', '/v1'].map((p) => [p, process.env.OTLAKE_URL || 'http://127.0.0.1:4318'])),
  },
});
