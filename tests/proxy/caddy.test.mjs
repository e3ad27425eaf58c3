// The gate through the real Caddy (Debian's package, 2.6.2) with the
// quickstart's own configuration, docs/examples/caddy/Caddyfile.
import { startCaddy, send } from './lib/proxies.mjs';
import { gateSuite } from './lib/scenarios.mjs';

gateSuite('caddy', {
  remoteHeaders: false,
  deniedPage: true,
  async start(ports) {
    const px = await startCaddy(ports);
    return { ...px, send: (o) => send(px.https, o) };
  },
});
