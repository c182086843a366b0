import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { jcs, sha256Hex } from '../../shared/hashing.js';

/** A signed statement of a chain's head: "at signedAt, chain C had seq N with hash H". */
export interface Checkpoint {
  chain: string;
  seq: number;
  hash: string;
  signedAt: string;
  signature: string;
  keyId: string;
}

export const CHECKPOINT_FORMAT = 'JCS({"type":"ainfera.checkpoint","v":1,"chain","seq","hash","signedAt"}), Ed25519, signature in base64';

/** The exact bytes that are signed; an independent verifier rebuilds them from the checkpoint's fields. */
export function checkpointMessage(c: Pick<Checkpoint, 'chain' | 'seq' | 'hash' | 'signedAt'>): Buffer {
  return Buffer.from(jcs({ type: 'ainfera.checkpoint', v: 1, chain: c.chain, seq: c.seq, hash: c.hash, signedAt: c.signedAt }), 'utf8');
}

export class AuditSigner {
  readonly keyId: string;
  readonly publicKeyPem: string;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('AUDIT_SIGNING_KEY must be an Ed25519 private key (PKCS#8 PEM).');
    const publicKey = createPublicKey(privateKey);
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    // keyId: the first 16 hex digits of SHA-256 over the raw 32-byte public key.
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    this.keyId = sha256Hex(raw).slice(0, 16);
  }

  sign(head: { chain: string; seq: number; hash: string }, now = new Date()): Checkpoint {
    const unsigned = { chain: head.chain, seq: head.seq, hash: head.hash, signedAt: now.toISOString() };
    return { ...unsigned, signature: sign(null, checkpointMessage(unsigned), this.privateKey).toString('base64'), keyId: this.keyId };
  }

  verify(c: Checkpoint): boolean {
    if (c.keyId !== this.keyId) return false;
    try {
      return verify(null, checkpointMessage(c), createPublicKey(this.publicKeyPem), Buffer.from(c.signature, 'base64'));
    } catch {
      return false;
    }
  }
}

/**
 * The key from AUDIT_SIGNING_KEY (PKCS#8 PEM, or its base64); without one, outside production,
 * a key generated once into DATA_DIR/audit-signing-key.pem.
 */
export async function loadSigner(opts: { key: string | undefined; dataDir: string; production: boolean }): Promise<AuditSigner> {
  if (opts.key) {
    const pem = opts.key.includes('-----BEGIN') ? opts.key : Buffer.from(opts.key, 'base64').toString('utf8');
    return new AuditSigner(createPrivateKey(pem));
  }
  if (opts.production) throw new Error('AUDIT_SIGNING_KEY is required in production.');
  const file = path.join(opts.dataDir, 'audit-signing-key.pem');
  let pem = await fs.readFile(file, 'utf8').catch(() => null);
  if (!pem) {
    pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await fs.mkdir(opts.dataDir, { recursive: true });
    await fs.writeFile(file, pem, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
      pem = await fs.readFile(file, 'utf8'); // another process made it first
    });
  }
  return new AuditSigner(createPrivateKey(pem));
}
