// After `tsc -p tsconfig.build.json`: the review UI's views and static files go beside the compiled code.
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');
for (const dir of ['web/views', 'web/static']) {
  const to = path.join(root, 'dist', dir);
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(path.join(root, 'src', dir), to, { recursive: true });
}
