/**
 * The image of the platform's small one-purpose jobs (applying APISIX routes, keeping
 * etcd's users): sh, awk and curl, nothing else. curl_user (uid 100) runs it.
 */
export const CURL_IMAGE = "curlimages/curl:8.11.1@sha256:c1fe1679c34d9784c1b0d1e5f62ac0a79fca01fb6377cdd33e90473c6f9f9a69";
export const CURL_UID = "100";
