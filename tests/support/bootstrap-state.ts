/** Computed values a real `up` would return for the bootstrap tests: public addresses, the floating IP, join tokens. */
export const TOKEN = "SWMTKN-1-0123456789abcdef-test";

export function bootstrapState(args: { type: string; name: string }): Record<string, unknown> | undefined {
  if (args.type === "hcloud:index/floatingIp:FloatingIp") return { ipAddress: "203.0.113.10" };
  if (args.type === "hcloud:index/server:Server") return { ipv4Address: `198.51.100.${Number(/(\d+)$/.exec(args.name)![1]) + (args.name.includes("mgr") ? 0 : 20)}` };
  if (args.type === "command:remote:Command") return { stdout: args.name.includes("token") ? `${TOKEN}\n` : "", stderr: "" };
  return undefined;
}
