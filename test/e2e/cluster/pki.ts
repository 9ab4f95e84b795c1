// The cluster's keys, made fresh for each cluster: a CA, the API server's serving certificate,
// one for the harness's admission webhook (Fargate's, see fargate.ts), and the ServiceAccount
// token signing key. openssl (Debian's, on every machine here) signs the certificates.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caPem: string;
  readonly apiserverCert: string;
  readonly apiserverKey: string;
  readonly webhookCert: string;
  readonly webhookKey: string;
  readonly saKey: string;
  readonly saPub: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function serving(dir: string, name: string, subject: string, sans: string): void {
  writeFileSync(
    join(dir, `${name}.ext`),
    `subjectAltName=${sans}\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-subj",
    subject,
    "-out",
    `${name}.csr`,
  ]);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ]);
}

export function makePki(dir: string): Pki {
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-subj",
    "/CN=dagops-e2e-ca",
    "-days",
    "2",
    "-out",
    "ca.crt",
  ]);
  serving(dir, "apiserver", "/CN=kube-apiserver", "IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc");
  serving(dir, "webhook", "/CN=dagops-e2e-webhook", "IP:127.0.0.1,DNS:localhost");
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caPem: readFileSync(join(dir, "ca.crt"), "utf8"),
    apiserverCert: join(dir, "apiserver.crt"),
    apiserverKey: join(dir, "apiserver.key"),
    webhookCert: join(dir, "webhook.crt"),
    webhookKey: join(dir, "webhook.key"),
    saKey: join(dir, "sa.key"),
    saPub: join(dir, "sa.pub"),
  };
}

/** A kubeconfig for `server` with the CA and one bearer token. */
export function kubeconfig(server: string, caPem: string, token: string, user: string, context = "e2e"): string {
  const ca = Buffer.from(caPem).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: e2e",
    "    cluster:",
    `      server: ${server}`,
    `      certificate-authority-data: ${ca}`,
    "users:",
    `  - name: ${user}`,
    "    user:",
    `      token: ${token}`,
    "contexts:",
    `  - name: ${context}`,
    "    context:",
    "      cluster: e2e",
    `      user: ${user}`,
    `current-context: ${context}`,
    "",
  ].join("\n");
}
