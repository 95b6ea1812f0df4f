import {
  type ClusterControlConfig,
  type ClusterTarget,
  type EtcdClient,
  type EtcdConnection,
  type LogFormat,
  type Logger,
  ConfigError,
  clientFromConfig,
  connectFromConfig,
  createLogger,
  findCluster,
  loadConfig,
  resolveClusterTarget,
} from '@cluster-control/core';
import { builtinHandlers } from '@cluster-control/handlers';

/** Options every command accepts (commander's globals). */
export interface GlobalOptions {
  conf?: string;
  verbose?: boolean;
  /** Commander has checked it is one of these. */
  logFormat?: LogFormat;
}

/** What a command runs with: its configuration, a logger, and etcd on demand. */
export class CommandContext {
  private connection: EtcdConnection | undefined;
  private client: EtcdClient | undefined;

  private constructor(
    readonly config: ClusterControlConfig,
    readonly logger: Logger,
  ) {}

  static async create(options: GlobalOptions): Promise<CommandContext> {
    const logger = createLogger({ level: options.verbose ? 'debug' : 'info', format: options.logFormat ?? 'text' });
    const config = await loadConfig({ ...(options.conf ? { path: options.conf } : {}) });
    // Fields the loader did not recognise (a typo is otherwise silently a default).
    for (const warning of config.warnings) logger.warn(warning);
    return new CommandContext(config, logger);
  }

  /** The full connection (gRPC): watches and leases kept alive, for long-running commands. */
  async etcd(): Promise<EtcdConnection> {
    this.connection ??= await connectFromConfig(this.config.etcd, this.logger);
    return this.connection;
  }

  /** Unary calls only (one-shot commands), over the transport `etcd.transport` chooses: the JSON gateway unless it is missing. */
  etcdClient(): EtcdClient {
    this.client ??= clientFromConfig(this.config.etcd, this.logger);
    return this.client;
  }

  async target(clusterName: string): Promise<ClusterTarget> {
    return resolveClusterTarget(this.config, findCluster(this.config, clusterName), builtinHandlers);
  }

  /** The `self` section, required by the commands that manage the process's own key. */
  self() {
    if (!this.config.self) throw new ConfigError(`${this.config.sourcePath}: self.key: required by this command (add a "self" section)`);
    return this.config.self;
  }

  close(): void {
    this.connection?.close();
    this.client?.close();
  }
}
