/** A health check that fetches a local HTTP path with the image's own wget (any 2xx is healthy). */
export function httpGetTest(port: number, path: string): string[] {
  return ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${path}`];
}
