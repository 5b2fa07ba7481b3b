import { dirname, join } from 'node:path';
import { Router } from 'express';
import { openApiDocument } from '../openapi/document';

/** The npm package swagger-ui-dist: Swagger UI as prebuilt files, served from node_modules. */
const SWAGGER_UI_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS_PATH = '/docs/assets';

/** Starts Swagger UI on /openapi.json. A file, not inline code, so the page's CSP allows only 'self'. */
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    // No badge from validator.swagger.io: the page fetches nothing but this API.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

/** What /docs/assets serves: the package's files by name, and the start script. Nothing else. */
const ASSETS: Record<string, { file: string } | { text: string; type: string }> = {
  'swagger-ui.css': { file: 'swagger-ui.css' },
  'swagger-ui-bundle.js': { file: 'swagger-ui-bundle.js' },
  'favicon-32x32.png': { file: 'favicon-32x32.png' },
  'init.js': { text: INIT_SCRIPT, type: 'text/javascript' },
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Credits &amp; billing API reference</title>
<link rel="stylesheet" href="${ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="${ASSETS_PATH}/favicon-32x32.png">
</head>
<body>
<noscript><p>This reference needs JavaScript. The document itself is at <a href="/openapi.json">/openapi.json</a>.</p></noscript>
<div id="swagger-ui"></div>
<script src="${ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="${ASSETS_PATH}/init.js"></script>
</body>
</html>
`;

/**
 * Only this origin: the page works offline, and a browser refuses anything else the bundle might
 * try (fonts, a validator, analytics). Swagger UI sets inline styles, hence 'unsafe-inline' for styles.
 */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * `GET /openapi.json`, the OpenAPI 3.1 document of every route (api/openapi/), and `GET /docs`,
 * its reference page: Swagger UI from the swagger-ui-dist package, served by this API (no CDN).
 */
export function docsRouter(): Router {
  const router = Router();

  router.get('/openapi.json', (_req, res) => {
    res.set('Cache-Control', 'no-cache').json(openApiDocument());
  });

  router.get('/docs', (_req, res) => {
    res
      .status(200)
      .set({
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': PAGE_CSP,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'same-origin',
      })
      .send(PAGE);
  });

  router.get(`${ASSETS_PATH}/:file`, (req, res, next) => {
    const asset = Object.hasOwn(ASSETS, req.params.file) ? ASSETS[req.params.file] : undefined;
    if (!asset) {
      next();
      return;
    }
    res.set({ 'Cache-Control': 'public, max-age=3600', 'X-Content-Type-Options': 'nosniff' });
    if ('text' in asset) {
      res.type(asset.type).send(asset.text);
      return;
    }
    res.sendFile(join(SWAGGER_UI_DIR, asset.file), (error) => {
      if (error) next(error);
    });
  });
  return router;
}
