#!/usr/bin/env node
// The `plugbay` command. A committed file rather than dist/cli/main.js itself: npm links a package's bins at install
// time, before `prepare` has built dist/, and skips a bin whose file does not exist yet.
import '../dist/cli/main.js';
