// Ink asks is-in-ci whether CI or CONTINUOUS_INTEGRATION is set and, if so, draws nothing until
// the app exits (meant for build logs). snapdeck opens its UI only on a terminal, where that mode
// shows an operator a blank screen: a CI variable in the environment of an SSH session, a runner or
// a test must not change what a terminal shows. test/e2e/pty.test.ts runs the UI with CI=true.
export default false;
