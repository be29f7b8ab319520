/**
 * Words nft's scanner turns into keywords where pfsteer writes its table name: in every state
 * (nftables src/scanner.l, rules without a start condition or with `<*>`) and after `list`
 * (the driver reads with `nft -j list table inet NAME`). A table name is nft's plain identifier,
 * and one of these in its place is a syntax error (`add table inet map`), so the config refuses
 * them. Taken from the newest scanner: a superset of what nft 1.0.6 rejects.
 */
export const NFT_KEYWORDS: ReadonlySet<string> = new Set([
  // After `list` only.
  'chains', 'counters', 'flowtables', 'hooks', 'limits', 'maps', 'meters', 'quotas', 'rules', 'secmarks',
  'sets', 'synproxys', 'tables', 'tunnels',
  // Everywhere.
  'accept', 'add', 'ah', 'all', 'and', 'arp', 'auto-merge', 'bridge', 'cgroup', 'chain', 'comment',
  'comp', 'constant', 'continue', 'counter', 'cpu', 'create', 'ct', 'day', 'dccp', 'define',
  'delete', 'describe', 'destroy', 'device', 'devices', 'dnat', 'drop', 'dst', 'dup', 'dynamic',
  'ecn', 'element', 'elements', 'eq', 'esp', 'ether', 'exists', 'expires', 'export', 'exthdr',
  'fib', 'flags', 'flow', 'flowtable', 'flush', 'frag', 'fwd', 'gc-interval', 'ge', 'geneve',
  'get', 'goto', 'gre', 'gretap', 'gt', 'handle', 'hbh', 'hook', 'hour', 'ibriport', 'ibrname',
  'icmp', 'icmpv6', 'igmp', 'iif', 'iifgroup', 'iifname', 'iiftype', 'import', 'include', 'index',
  'inet', 'insert', 'interval', 'ip', 'ip6', 'ipsec', 'jhash', 'jump', 'last', 'le', 'limit',
  'list', 'log', 'lshift', 'lt', 'map', 'mark', 'masquerade', 'meta', 'meter', 'mh', 'missing',
  'monitor', 'ne', 'netdev', 'nftrace', 'not', 'notrack', 'numgen', 'obriport', 'obrname',
  'offload', 'oif', 'oifgroup', 'oifname', 'oiftype', 'or', 'osf', 'pkttype', 'policy', 'position',
  'priority', 'queue', 'quota', 'random', 'redefine', 'redirect', 'reject', 'rename', 'replace',
  'reset', 'return', 'rshift', 'rt', 'rt0', 'rt2', 'rtclassid', 'rule', 'ruleset', 'sctp',
  'secmark', 'set', 'size', 'skgid', 'skuid', 'snat', 'socket', 'srh', 'symhash', 'synproxy',
  'table', 'tcp', 'th', 'time', 'timeout', 'tproxy', 'tunnel', 'type', 'typeof', 'udp', 'udplite',
  'undefine', 'update', 'vlan', 'vmap', 'vni', 'vxlan', 'xor', 'xt',
]);
