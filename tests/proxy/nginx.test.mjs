// The gate through the real nginx (Debian's package) with the quickstart's
// own configuration, docs/examples/nginx/gatehouse.conf.
import { startNginx, send } from './lib/proxies.mjs';
import { gateSuite } from './lib/scenarios.mjs';

gateSuite('nginx', {
  nginx: true,
  deniedPage: true,
  remoteHeaders: true,
  async start(ports) {
    const px = await startNginx(ports);
    return { ...px, send: (o) => send(px.https, o) };
  },
});
