/**
 * The `code` of every error class cluster-control throws, in one place: match an error by
 * `err.code === ErrorCode.CC_…` rather than by its class, which breaks when two copies of a
 * package are loaded, or by its shape. Codes are stable; a subclass has a code of its own and
 * still passes `instanceof` for its parent. The table in the core README says what each means.
 */
export const ErrorCode = {
  /** ConfigError: a mistake in the configuration (CLI exit 2). */
  CC_CONFIG_INVALID: 'CC_CONFIG_INVALID',
  /** One field of the configuration is wrong; becomes a ConfigError before it leaves core. */
  CC_CONFIG_FIELD: 'CC_CONFIG_FIELD',
  /** HandlerOptionsError: a handler's options are wrong. */
  CC_HANDLER_OPTIONS: 'CC_HANDLER_OPTIONS',
  /** EtcdUnavailableError: etcd could not be reached in time. */
  CC_ETCD_UNAVAILABLE: 'CC_ETCD_UNAVAILABLE',
  /** EtcdAccessError: authentication or permission refused. */
  CC_ETCD_ACCESS: 'CC_ETCD_ACCESS',
  /** EtcdEndpointError (an EtcdAccessError): the endpoint is not what the configuration says. */
  CC_ETCD_ENDPOINT: 'CC_ETCD_ENDPOINT',
  /** GatewayMissingError (an EtcdEndpointError): no JSON gateway at the endpoint. */
  CC_ETCD_NO_GATEWAY: 'CC_ETCD_NO_GATEWAY',
  /** CompactedError: the revision asked for was compacted. */
  CC_ETCD_COMPACTED: 'CC_ETCD_COMPACTED',
  /** etcd answered a JSON-gateway call with a gRPC error status; internal, mapped before it leaves the client. */
  CC_ETCD_GRPC_STATUS: 'CC_ETCD_GRPC_STATUS',
  /**
   * UnsafeTargetError: installFile refused a target. Keeps the code it was published with
   * (documented as `ERR_UNSAFE_TARGET`), so it is the one code without the CC_ prefix.
   */
  ERR_UNSAFE_TARGET: 'ERR_UNSAFE_TARGET',
  /** RegistrationTimeoutError: registerKey gave up after its timeout. */
  CC_REGISTRATION_TIMEOUT: 'CC_REGISTRATION_TIMEOUT',
  /** SupervisorError: the supervisor could not go on. */
  CC_SUPERVISOR: 'CC_SUPERVISOR',
  /** ServiceStartError: the supervised service could not be started. */
  CC_SERVICE_START: 'CC_SERVICE_START',
  /** The CLI's UsageError: wrong command-line usage (exit 2). */
  CC_USAGE: 'CC_USAGE',
  /** The CLI's RuntimeError: a described failure at run time (exit 1). */
  CC_RUNTIME: 'CC_RUNTIME',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Whether `err` carries one of `codes`; works across copies of a package, unlike `instanceof`. */
export function hasErrorCode<C extends ErrorCode>(err: unknown, ...codes: C[]): err is Error & { readonly code: C } {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (codes as string[]).includes(code);
}
