// simple-peer's own standalone build (browserify, with its Buffer/process/events inside): browsers
// get a working simple-peer without the app's bundler having to polyfill Node. Same API as the package.
declare module 'simple-peer/simplepeer.min.js' {
  import SimplePeer from 'simple-peer';
  export default SimplePeer;
}
