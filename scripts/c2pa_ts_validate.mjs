// Validate the C2PA manifest of one file with @trustnxt/c2pa-ts (an independent, pure TypeScript
// implementation). Run from a folder where the package is installed:
//   cd DIR && node --input-type=module < scripts/c2pa_ts_validate.mjs -- FILE   (or node FILE.mjs FILE)
// Prints one JSON line: {"found": bool, "isValid": bool, "codes": [...], "error": string|null}.
import * as fs from 'node:fs/promises';
import { BMFF, JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore, ValidationResult } from '@trustnxt/c2pa-ts/manifest';

// c2pa-ts 0.9 lists HEIC/HEIF as its only ISO BMFF formats: its BMFF reader (boxes, the v2/v3 BMFF
// hash) is gated by the ftyp brand. MP4 and QuickTime are the same box structure, so we let it in.
for (const brand of ['isom', 'iso2', 'mp41', 'mp42', 'avc1', 'qt  ']) BMFF.canReadBrands.add(brand);

const file = process.argv[process.argv.length - 1];
const buf = new Uint8Array(await fs.readFile(file));
let asset;
try {
  if (BMFF.canRead(buf)) asset = new BMFF(buf);
  else if (JPEG.canRead(buf)) asset = new JPEG(buf);
  else if (PNG.canRead(buf)) asset = new PNG(buf);
} catch (e) {
  console.log(JSON.stringify({ found: false, isValid: false, codes: [], error: String(e.message || e) }));
  process.exit(0);
}
if (!asset) {
  console.log(JSON.stringify({ found: false, isValid: false, codes: [], error: 'unknown file format' }));
  process.exit(0);
}
const jumbf = asset.getManifestJUMBF();
if (!jumbf) {
  console.log(JSON.stringify({ found: false, isValid: false, codes: [], error: null }));
  process.exit(0);
}
let result;
let error = null;
try {
  result = await ManifestStore.read(SuperBox.fromBuffer(jumbf)).validate(asset);
} catch (e) {
  error = String(e && e.message ? e.message : e);
  result = ValidationResult.fromError(e);
}
const codes = (result.statusEntries || []).map((s) => `${s.success ? '+' : '-'}${s.code}`);
console.log(JSON.stringify({ found: true, isValid: result.isValid, codes, error }));
