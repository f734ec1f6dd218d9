// The CDK app (cdk.json runs it): `npx cdk synth`, `npx cdk deploy -c stage=prod`; see README "Deploying".
import { App } from 'aws-cdk-lib';
import { buildCapacityApp } from './capacity-app';

const app = new App();
buildCapacityApp(app);
app.synth();
