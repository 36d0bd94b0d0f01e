#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../lib/app-stack';

// Parameters come from CDK context: see infra/README.md (e.g. -c configFile=examples/example.json).
const app = new App();
buildApp(app);
// cdk-nag's AWS Solutions pack: any finding that is not acknowledged in the code fails the synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
