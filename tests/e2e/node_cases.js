// node_cases.js DIR all — Node.js file-system calls in DIR, one line each
// ("<what> -> <result>" or "<what> -> ERR <code>"), for the differential
// test (Test(e2e_diff, node) in tests/test_e2e_diff.c): under the preload
// in a store directory and without it in a tmpfs directory, the outputs
// must be the same. libuv reaches stat/lstat/fstat through syscall(statx),
// the rest through the named calls. Nothing that legitimately differs
// between two file systems is printed (inode numbers, devices, times).
'use strict';
const fs = require('fs');
const path = require('path');

const D = process.argv[2];
const P = (n) => path.join(D, n);

function line(what, fn) {
  try {
    const r = fn();
    console.log(`${what} -> ${r === undefined ? 'ok' : JSON.stringify(r)}`);
  } catch (e) {
    console.log(`${what} -> ERR ${e.code}`);
  }
}

function st(s) {
  return {
    file: s.isFile(), dir: s.isDirectory(), link: s.isSymbolicLink(),
    mode: (s.mode & 0o7777).toString(8), size: s.isDirectory() ? 'dir' : s.size,
    nlink: s.nlink,
  };
}

async function main() {
  line('writeFile f', () => fs.writeFileSync(P('f'), 'hello'));
  line('stat f', () => st(fs.statSync(P('f'))));
  line('lstat f', () => st(fs.lstatSync(P('f'))));
  line('stat missing', () => st(fs.statSync(P('missing'))));
  line('stat f/x', () => st(fs.statSync(P('f/x'))));
  line('symlink l', () => fs.symlinkSync('f', P('l')));
  line('stat l', () => st(fs.statSync(P('l'))));
  line('lstat l', () => st(fs.lstatSync(P('l'))));
  line('readlink l', () => fs.readlinkSync(P('l')));
  line('exists f', () => fs.existsSync(P('f')));
  line('exists missing', () => fs.existsSync(P('missing')));
  line('fstat', () => { const fd = fs.openSync(P('f'), 'r'); const s = st(fs.fstatSync(fd)); fs.closeSync(fd); return s; });
  line('mkdir a/b/c recursive', () => fs.mkdirSync(P('a/b/c'), { recursive: true }));
  line('mkdir a/b/c recursive again', () => fs.mkdirSync(P('a/b/c'), { recursive: true }));
  line('mkdir a', () => fs.mkdirSync(P('a')));
  line('mkdir f/x recursive', () => fs.mkdirSync(P('f/x'), { recursive: true }));
  line('writeFile a/b/c/d', () => fs.writeFileSync(P('a/b/c/d'), 'deep'));
  line('readdir D', () => fs.readdirSync(D).sort());
  line('readdir withFileTypes', () => fs.readdirSync(D, { withFileTypes: true })
    .map((e) => `${e.name}:${e.isFile() ? 'f' : e.isDirectory() ? 'd' : e.isSymbolicLink() ? 'l' : '?'}`).sort());
  line('readdir recursive', () => fs.readdirSync(P('a'), { recursive: true }).sort());
  line('rename f g', () => fs.renameSync(P('f'), P('g')));
  line('rename missing', () => fs.renameSync(P('f'), P('h')));
  line('rename dir into itself', () => fs.renameSync(P('a'), P('a/b/z')));
  line('readFile g', () => fs.readFileSync(P('g'), 'utf8'));
  line('appendFile g', () => fs.appendFileSync(P('g'), ' world'));
  line('readFile g again', () => fs.readFileSync(P('g'), 'utf8'));
  line('copyFile g k', () => fs.copyFileSync(P('g'), P('k')));
  line('readFile k', () => fs.readFileSync(P('k'), 'utf8'));
  line('truncate k', () => fs.truncateSync(P('k'), 2));
  line('stat k', () => st(fs.statSync(P('k'))));
  line('chmod k', () => fs.chmodSync(P('k'), 0o600));
  line('stat k mode', () => st(fs.statSync(P('k'))));
  line('access k', () => fs.accessSync(P('k'), fs.constants.R_OK));
  line('access missing', () => fs.accessSync(P('missing')));
  line('realpath l', () => path.relative(D, fs.realpathSync(P('l'))));
  line('rmdir a (not empty)', () => fs.rmdirSync(P('a')));
  line('rm a recursive force', () => fs.rmSync(P('a'), { recursive: true, force: true }));
  line('exists a', () => fs.existsSync(P('a')));
  line('rm missing force', () => fs.rmSync(P('missing'), { force: true }));
  line('rm missing', () => fs.rmSync(P('missing')));
  line('unlink l', () => fs.unlinkSync(P('l')));
  line('mkdtemp', () => path.basename(fs.mkdtempSync(P('t-'))).length);

  // streams
  await new Promise((resolve) => {
    const w = fs.createWriteStream(P('s'));
    for (let i = 0; i < 100; i++) w.write(`line ${i}\n`);
    w.end(() => {
      console.log(`stream write -> ${fs.statSync(P('s')).size}`);
      let n = 0;
      fs.createReadStream(P('s')).on('data', (c) => { n += c.length; })
        .on('end', () => { console.log(`stream read -> ${n}`); resolve(); });
    });
  });

  // promises
  const p = fs.promises;
  const pline = async (what, fn) => {
    try {
      const r = await fn();
      console.log(`${what} -> ${r === undefined ? 'ok' : JSON.stringify(r)}`);
    } catch (e) {
      console.log(`${what} -> ERR ${e.code}`);
    }
  };
  await pline('p.stat s', async () => st(await p.stat(P('s'))));
  await pline('p.lstat s', async () => st(await p.lstat(P('s'))));
  await pline('p.stat missing', async () => st(await p.stat(P('missing'))));
  await pline('p.mkdir x/y recursive', () => p.mkdir(P('x/y'), { recursive: true }));
  await pline('p.writeFile x/y/z', () => p.writeFile(P('x/y/z'), 'zz'));
  await pline('p.readdir x/y', async () => (await p.readdir(P('x/y'))).sort());
  await pline('p.rename', () => p.rename(P('x/y/z'), P('x/z')));
  await pline('p.readFile', () => p.readFile(P('x/z'), 'utf8'));
  await pline('p.rm x recursive', () => p.rm(P('x'), { recursive: true }));
  await pline('p.access x', () => p.access(P('x')));
  await pline('p.opendir', async () => { const d = await p.opendir(D); const n = []; for await (const e of d) n.push(e.name); return n.sort().length; });
  line('final readdir', () => fs.readdirSync(D).filter((n) => !n.startsWith('t-')).sort());
}

main();
