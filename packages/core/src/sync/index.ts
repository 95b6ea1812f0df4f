// `@cluster-control/core/sync`: the pipeline's parts below ClusterSync and prepareCluster (root entry):
// one-shot reads and renders, their logging, the safe installer, host resolution, and reading a
// rendered members file back.
export { previewCluster, readCluster, renderCluster, logDiagnostics, type ClusterRead, type RenderedCluster } from './prepare.js';
export { reportQuarantine } from './quarantine-report.js';
export { SafeInstaller, type SafeInstallResult } from './safe-install.js';
export { HostResolver, type HostResolverOptions, type Resolution } from './host-resolver.js';
export { parseMembersJson, readMembersFile, type ListedMember } from './members-file.js';
