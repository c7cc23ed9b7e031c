import { VERSION } from './version.js';

const USAGE = `kubearmor-shipper ${VERSION}
Ships KubeArmor alerts and logs from container log files into Elasticsearch.

Usage:
  kubearmor-shipper --version
  kubearmor-shipper --help
`;

/** Entry point; returns the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case '--version':
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}
