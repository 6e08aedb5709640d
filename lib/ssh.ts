import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";

/**
 * Reads the public half out of an unencrypted private key, so the stack needs
 * only one SSH secret and the key Hetzner installs always matches the key the
 * bootstrap connects with. Accepts OpenSSH (`ssh-keygen` default) and PEM/PKCS#8
 * ed25519 keys. Returns undefined when the text is no usable key.
 */
export function publicKeyFromPrivate(privateKey: string): string | undefined {
  const text = privateKey.trim();
  if (text.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----")) return fromOpenSsh(text);
  try {
    const jwk = createPublicKey(text).export({ format: "jwk" });
    if (jwk.kty === "OKP" && jwk.crv === "Ed25519" && jwk.x) {
      return `ssh-ed25519 ${sshBlob(["ssh-ed25519", Buffer.from(jwk.x, "base64url")]).toString("base64")}`;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The reason a key cannot be used, for the validation error. */
export function privateKeyProblem(privateKey: string): string | undefined {
  const text = privateKey.trim();
  if (text.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----")) {
    const body = openSshBody(text);
    if (!body) return "the OpenSSH key block is damaged";
    const cipher = readString(body, 15);
    if (cipher && cipher.value.toString() !== "none") return "the key is protected by a passphrase; the bootstrap needs an unencrypted deploy key";
  }
  return publicKeyFromPrivate(text) ? undefined : "no unencrypted OpenSSH or PEM ed25519 private key";
}

function openSshBody(text: string): Buffer | undefined {
  const b64 = text
    .replace("-----BEGIN OPENSSH PRIVATE KEY-----", "")
    .replace("-----END OPENSSH PRIVATE KEY-----", "")
    .replace(/\s+/g, "");
  const body = Buffer.from(b64, "base64");
  const magic = "openssh-key-v1\0";
  return body.subarray(0, magic.length).toString("latin1") === magic ? body : undefined;
}

function readString(buf: Buffer, at: number): { value: Buffer; next: number } | undefined {
  if (at + 4 > buf.length) return undefined;
  const len = buf.readUInt32BE(at);
  if (at + 4 + len > buf.length) return undefined;
  return { value: buf.subarray(at + 4, at + 4 + len), next: at + 4 + len };
}

function fromOpenSsh(text: string): string | undefined {
  const body = openSshBody(text);
  if (!body) return undefined;
  const cipher = readString(body, 15);
  const kdf = cipher && readString(body, cipher.next);
  const kdfOptions = kdf && readString(body, kdf.next);
  if (!cipher || !kdfOptions || cipher.value.toString() !== "none") return undefined;
  const count = body.readUInt32BE(kdfOptions.next);
  if (count !== 1) return undefined;
  const pub = readString(body, kdfOptions.next + 4);
  if (!pub) return undefined;
  const type = readString(pub.value, 0);
  return type ? `${type.value.toString()} ${pub.value.toString("base64")}` : undefined;
}

function sshBlob(parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      const b = typeof p === "string" ? Buffer.from(p) : p;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    }),
  );
}

/** A throwaway ed25519 key (PKCS#8 PEM) for offline plans and tests, which have no real secret. */
export function throwawayPrivateKey(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

/** An SSH host key: the OpenSSH private key file and its `ssh-ed25519 AAAA…` public line. */
export interface HostKey {
  readonly privateKey: string;
  readonly publicKey: string;
}

/** DER prefix of a PKCS#8 ed25519 private key; the 32-byte seed follows (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * An ed25519 host key derived from random text (a generated secret kept in the stack's state):
 * the seed is SHA-256 of the text, so the same secret always gives the same key and a server
 * replaced from the same secret keeps its host key. Written in the OpenSSH format, which every
 * OpenSSH release reads (PKCS#8 ed25519 needs a recent one).
 */
export function hostKeyFromSecret(secret: string, comment: string): HostKey {
  if (secret.length < 32) throw new Error(`host key ${comment}: the random secret has ${secret.length} characters, expected at least 32`);
  const seed = createHash("sha256").update("swarm-platform ssh host key\0").update(secret).digest();
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  const x = createPublicKey(key).export({ format: "jwk" }).x;
  if (!x) throw new Error(`host key ${comment}: node:crypto returned no public key`);
  const pub = Buffer.from(x, "base64url");
  const pubBlob = sshBlob(["ssh-ed25519", pub]);
  // The two check words only let a reader detect a wrong passphrase; derived, so the file is stable.
  const check = createHash("sha256").update(seed).digest().subarray(0, 4);
  let section = Buffer.concat([check, check, sshBlob(["ssh-ed25519", pub, Buffer.concat([seed, pub]), comment])]);
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from("openssh-key-v1\0", "latin1"), sshBlob(["none", "none", ""]), count, sshBlob([pubBlob, section])]);
  const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
  return {
    privateKey: ["-----BEGIN OPENSSH PRIVATE KEY-----", ...lines, "-----END OPENSSH PRIVATE KEY-----", ""].join("\n"),
    publicKey: `ssh-ed25519 ${pubBlob.toString("base64")}`,
  };
}
