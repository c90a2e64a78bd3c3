// Run by test/connection/deno-permissions.test.ts under `deno run` with some permissions
// withheld (a static import of the built package needs no --allow-read): connects with the
// settings and runtime options given as JSON and prints, as one JSON line, whether it
// connected (and over TLS), the error (name, code, message) and every warning connect() gave.
import { connect } from '../../dist/index.js';

const [settings, options = '{}'] = Deno.args;
const warnings = [];
const result = { connected: false, tls: false, error: undefined, warnings };
try {
  const conn = await connect(JSON.parse(settings), {
    ...JSON.parse(options),
    onWarning: (message) => warnings.push(message),
  });
  result.connected = (await conn.exec('SELECT 1')).rows[0]?.[0] === '1';
  result.tls = conn.tls;
  await conn.close();
} catch (error) {
  result.error = { name: error.name, code: error.code, message: error.message };
}
console.log(JSON.stringify(result));
