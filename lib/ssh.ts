import { createPublicKey, generateKeyPairSync } from "node:crypto";

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
