// The OpenAPI 3.1 document (from the routes' zod schemas) at /openapi.json, and its reference page
// at /docs: Swagger UI, served whole from the pinned swagger-ui-dist package. The page loads
// nothing from any other host (it works offline, and a CDN cannot run script on the origin where
// the admin area's Basic credentials are cached), and has no inline code, so its policy allows
// same-origin scripts and stylesheets only. (Scalar was the page before: its bundle needs eval and
// injects inline <style> elements, so it cannot run under this policy.)
import type { OpenAPIHono } from '@hono/zod-openapi';
import { pagePolicy, PAGE_POLICY } from '../middleware/content-security-policy.ts';
import { ownScript, packageAssets } from '../middleware/package-assets.ts';

export const DOCS_PATH = '/docs';
const ASSETS_PATH = `${DOCS_PATH}/assets`;
const TITLE = 'pizza-outbox API';
// The SPDX identifier is OpenAPI 3.1's; the generator's config type is 3.0's, which has no field for it.
const LICENSE = { name: 'MIT', identifier: 'MIT' };

// Swagger UI's start-up, as a same-origin file rather than an inline script. validatorUrl: null
// keeps it from fetching a validity badge from validator.swagger.io.
const INIT = ownScript(
  ASSETS_PATH,
  'init',
  `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
});
`,
);

export function registerApiDocs(app: OpenAPIHono): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'basicAuth', { type: 'http', scheme: 'basic' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'pizza-outbox',
      version: '1.0.0',
      description: 'A pizza shop order service on a transactional outbox: Postgres → BullMQ, reliably.',
      license: LICENSE,
    },
    // Relative: the document describes the server that serves it, wherever it is deployed.
    servers: [{ url: '/', description: 'this server' }],
  });

  const swagger = packageAssets('swagger-ui-dist', ASSETS_PATH, ['swagger-ui-bundle.js', 'swagger-ui.css', 'index.css', 'favicon-32x32.png']);
  const page = docsPage(swagger.url.bind(swagger));
  app.get(`${swagger.base}/*`, swagger.handler);
  app.get(INIT.url, INIT.handler);
  app.use(DOCS_PATH, pagePolicy(PAGE_POLICY));
  // no-cache: the page names the current asset URLs, so it is always revalidated.
  app.get(DOCS_PATH, (c) => c.html(page, 200, { 'cache-control': 'no-cache' }));
}

function docsPage(asset: (file: string) => string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${TITLE}</title>
  <link rel="service-desc" type="application/openapi+json" href="/openapi.json">
  <link rel="icon" type="image/png" href="${asset('favicon-32x32.png')}">
  <link rel="stylesheet" href="${asset('swagger-ui.css')}">
  <link rel="stylesheet" href="${asset('index.css')}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${asset('swagger-ui-bundle.js')}"></script>
  <script src="${INIT.url}"></script>
</body>
</html>
`;
}
