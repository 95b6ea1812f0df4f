export const app = 'demo-db';
