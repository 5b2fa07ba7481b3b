/**
 * The supported runtime: Node.js 24 (the current LTS) or later, as `engines` in package.json says.
 * Every entry point imports this module first, so a start on an older Node stops here with one
 * line instead of running on an unsupported runtime. It imports nothing, so it runs before any
 * other module is loaded.
 *
 * npm scripts (`npm start`, `npm test`, `npm run api|worker|migrate`) run on the Node of the
 * `node` npm package in node_modules/.bin, whatever the machine's own Node is.
 */
export const MINIMUM_NODE_MAJOR = 24;

const major = Number(process.versions.node.split('.')[0]);
if (!(major >= MINIMUM_NODE_MAJOR)) {
  console.error(
    `unsupported Node.js ${process.version}: this service needs Node.js ${MINIMUM_NODE_MAJOR} or later; run it through npm (npm start, npm test, npm run api), which uses node_modules/.bin/node, or install Node.js ${MINIMUM_NODE_MAJOR}`,
  );
  process.exit(1);
}
