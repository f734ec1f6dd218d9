// Synthesizes the CDK app the way `cdk synth` does (infra/capacity-app.ts), into a throwaway directory,
// and reads back what the tests look at: templates, cdk-nag's findings, the bundled assets.
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCapacityApp } from '../../infra/capacity-app';

/** A finding cdk-nag (or CDK) reported and nobody acknowledged. */
export interface Finding {
  plugin: string;
  rule: string;
  severity: string;
  where: string[];
}

export interface Synthesized {
  app: App;
  assembly: CloudAssembly;
  built: ReturnType<typeof buildCapacityApp>;
  findings: Finding[];
  /** The template of a stack, found by its construct path (e.g. CapacityTracker-dev, or Pipeline/Dev/CapacityTracker). */
  template(path: string): Template;
  cleanup(): void;
}

interface ReportJson {
  pluginReports?: {
    pluginName?: string;
    violations?: {
      ruleName: string;
      severity?: string;
      violatingConstructs?: { constructPath?: string; resourceLogicalId?: string }[];
    }[];
  }[];
}

function findingsOf(directory: string): Finding[] {
  const file = join(directory, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as ReportJson;
  return (report.pluginReports ?? []).flatMap((p) =>
    (p.violations ?? []).map((v) => ({
      plugin: p.pluginName ?? '?',
      rule: v.ruleName,
      severity: v.severity ?? '?',
      where: (v.violatingConstructs ?? []).map((c) => c.constructPath ?? c.resourceLogicalId ?? '?'),
    })),
  );
}

export function synthesize(context: Record<string, unknown> = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'capacity-tracker-cdk-'));
  // As the CLI does: construct paths and asset paths in the templates' metadata, which the tests read.
  const app = new App({
    outdir,
    context: { 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true, ...context },
  });
  const built = buildCapacityApp(app);
  let assembly: CloudAssembly;
  try {
    assembly = app.synth();
  } catch (error) {
    // An unacknowledged error-level finding stops synthesis; its report is the message.
    rmSync(outdir, { recursive: true, force: true });
    throw error;
  }
  const stacks = [...assembly.stacks, ...assembly.nestedAssemblies.flatMap((a) => a.nestedAssembly.stacks)];
  return {
    app,
    assembly,
    built,
    findings: findingsOf(assembly.directory),
    template(path) {
      const stack = stacks.find((s) => s.hierarchicalId === path);
      if (!stack) throw new Error(`no stack ${path}; there are ${stacks.map((s) => s.hierarchicalId).join(', ')}`);
      return Template.fromJSON(stack.template as Record<string, unknown>);
    },
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}
