// The demo's db app arrives with the demo issue; until then the package only has to build.
export const app = 'demo-db';
