#!/usr/bin/env node
import '../dist/bundle/snapdeck.js';
