/**
 * Reading a definition's bytes safely, without the rest of the loader: the survey reads tenants
 * files with it on the no-op path, which must not load ajv, the schemas or `yaml`.
 */
import { closeSync, constants as fsConstants, lstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { MAX_SOURCE_BYTES } from "../model/files.ts";
import { problem, type Problem } from "../contract/problems.ts";

/**
 * A definition file's bytes, read safely: only a regular file (a FIFO would block, a device such
 * as /dev/zero never ends), inside the repository (a symlink may not lead out of it, and what it
 * points to is never echoed), and at most `MAX_SOURCE_BYTES`, enforced while reading, not only
 * by the size the file system reports.
 */
export function readSource(
  root: string,
  file: string,
): { kind: "read"; bytes: Buffer } | { kind: "refused"; problems: Problem[] } {
  const full = join(root, file);
  const refuse = (code: Problem["code"], message: string) => ({
    kind: "refused" as const,
    problems: [problem(code, file, "", message)],
  });
  let path = full;
  let info;
  try {
    info = lstatSync(full);
    if (info.isSymbolicLink()) {
      path = realpathSync(full);
      const inside = realpathSync(root);
      if (path !== inside && !path.startsWith(`${inside}${sep}`))
        return refuse(
          "FILE_UNREADABLE",
          `${file} is a symlink that leads out of the repository; definitions must live in it (copy the file in instead)`,
        );
      info = statSync(path);
    }
  } catch (e) {
    return refuse(
      "FILE_UNREADABLE",
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "a symlink to nothing, or the file is gone" : firstLine(e)}`,
    );
  }
  if (!info.isFile())
    return refuse(
      "FILE_UNREADABLE",
      `${file} is not a regular file (${info.isDirectory() ? "a folder" : info.isFIFO() ? "a FIFO" : info.isSocket() ? "a socket" : "a device"}); definitions are regular files`,
    );
  if (info.size > MAX_SOURCE_BYTES)
    return refuse("YAML_UNSAFE", `file is ${info.size} bytes; pipeline files are limited to ${MAX_SOURCE_BYTES} bytes`);
  let fd: number | undefined;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    // One byte more than the file should have: filling it means the file is larger than it said.
    const buffer = Buffer.allocUnsafe(Math.min(MAX_SOURCE_BYTES, info.size) + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length === buffer.length)
      return refuse(
        "YAML_UNSAFE",
        `file grew while being read (past ${info.size} bytes); pipeline files are limited to ${MAX_SOURCE_BYTES} bytes and must not change during a synth`,
      );
    return { kind: "read", bytes: buffer.subarray(0, length) };
  } catch (e) {
    return refuse("FILE_UNREADABLE", `cannot read ${file}: ${firstLine(e)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The first line of an error's message. */
export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!;
}
