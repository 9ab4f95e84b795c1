/**
 * dagops's one error model. A mistake in a definition is a value, a `Problem` (problems.ts),
 * collected and reported with its file and field path. Everything else that can go wrong (an
 * API server that refuses, a kubeconfig that cannot be used, a git ref that does not exist, a
 * lock held too long) is thrown as a `DagopsError`: its `name` says which kind (the class), its
 * `code` is stable for tools and tests, and its message says what was being done, what came back
 * and what to do.
 *
 * No error here carries the error it came from as `cause`. The errors of the clients below us
 * (@kubernetes/client-node, Octokit, fetch) hold the request they made, and with it a bearer
 * token or a webhook URL; a `cause` would print them with the stack, in a CI log or a pod's log.
 * What is kept of such an error is its HTTP status and the server's own message
 * (kube/errors.ts), or a reason in words (cli/no-answer.ts).
 */
export abstract class DagopsError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
