// /docs: Swagger UI over this service's /openapi.json. A file, not an inline script: the page's CSP allows
// scripts from this origin only. The validator badge would call another origin, so it is off.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  deepLinking: true,
  validatorUrl: null,
  defaultModelsExpandDepth: 0,
  displayRequestDuration: true,
});
