import { Command, CommanderError } from '@commander-js/extra-typings';
import type { Command as PlainCommand } from 'commander';
import { BinariesError } from '../controlplane/binaries.ts';
import { ControlPlaneError } from '../controlplane/components.ts';
import { ComponentStartError } from '../controlplane/supervisor.ts';
import { KubeconfigError } from '@kubenest/kube';
import { ConfigError } from '../config/validate.ts';
import { ValuesError } from '../config/values.ts';
import { binariesCommand } from './binaries.ts';
import { hostCommand } from './host.ts';
import { pluginCommand } from './plugin.ts';
import { PluginBuildError } from '../plugins/build/index.ts';
import { upCommand } from './up.ts';
import { vclusterCommands } from './vcluster.ts';
import { CliError } from './output.ts';

const program = new Command('kubenest')
  .description('virtual Kubernetes clusters with real control planes, extensible with vCluster-compatible plugins')
  .version('0.1.0');

program.addCommand(upCommand());
program.addCommand(hostCommand());
for (const command of vclusterCommands()) program.addCommand(command, command.name() === 'vcluster-run' ? { hidden: true } : {});
program.addCommand(binariesCommand());
program.addCommand(pluginCommand());

// Commands built on their own do not inherit settings; every level should point at --help.
const withHelpHint = (command: PlainCommand): void => {
  command.showHelpAfterError('(run with --help for usage)').exitOverride();
  for (const sub of command.commands) withHelpHint(sub);
};
withHelpHint(program as unknown as PlainCommand);

const known = [CliError, BinariesError, ControlPlaneError, ComponentStartError, KubeconfigError, ConfigError, ValuesError, PluginBuildError];

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode);
  }
  if (known.some((kind) => error instanceof kind)) {
    process.stderr.write(`kubenest: error: ${(error as Error).message}\n`);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  }
  throw error;
}
