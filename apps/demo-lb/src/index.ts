export const app = 'demo-lb';
