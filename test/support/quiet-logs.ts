// Imported first by tests that crash handlers on purpose: every injected crash is an "unexpected failure"
// the handlers log as an error. Powertools reads the level when the logger is made and restores it on
// every invocation, so it has to be set before the handlers load.
process.env.POWERTOOLS_LOG_LEVEL = 'CRITICAL';
