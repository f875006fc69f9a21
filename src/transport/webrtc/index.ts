export * from './constants.js';
export * from './simple-peer-like.js';
export * from './webrtc-link.js';
export * from './webrtc-transport.js';
