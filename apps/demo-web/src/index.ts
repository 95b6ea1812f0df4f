export const app = 'demo-web';
