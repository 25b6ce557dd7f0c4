// Runs the tests under the paths given (every test when none) with `deno test`, passing the
// arguments on, and ends with one line, "N passed, N failed", that CI reads.

// Tests start processes and read /proc, which Deno grants only with --allow-all.
const permissions = ["--allow-all"];
const command = new Deno.Command(Deno.execPath(), {
  args: ["test", ...permissions, ...Deno.args],
  stdout: "piped",
  stderr: "inherit",
});
const child = command.spawn();

// Pass the output through as it comes, keeping the tail to find deno's own summary.
let tail = "";
const decoder = new TextDecoder();
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  tail = (tail + decoder.decode(chunk, { stream: true })).slice(-4096);
}
const { code } = await child.status;

// deno prints e.g. "FAILED | 12 passed (3 steps) | 1 failed | 2 ignored (4s)".
// deno-lint-ignore no-control-regex
const plain = tail.replace(/\x1b\[[0-9;]*m/g, "");
const summary = plain.match(
  /(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/,
);
if (summary) {
  const [, passed, failed, ignored] = summary;
  const skipped = ignored && ignored !== "0" ? `, ${ignored} skipped` : "";
  console.log(
    `${passed} passed, ${code === 0 ? failed : Math.max(1, Number(failed))} failed${skipped}`,
  );
} else {
  console.log("0 passed, 1 failed"); // deno test stopped before running tests, e.g. a type error
}
Deno.exit(code);
