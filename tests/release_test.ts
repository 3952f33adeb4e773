/** The release workflow builds the executable as deno.json's `compile` task does. */
import { compileTaskArgs, REPO_ROOT } from "./compile_task.ts";
import { assert } from "./assert.ts";

Deno.test("release: the workflow's deno compile has every flag of the compile task", async () => {
  const workflow = await Deno.readTextFile(`${REPO_ROOT}.github/workflows/release.yml`);
  // The command: a line beginning `deno compile`, and the lines its backslashes join to it.
  const step = /^[ \t]*deno compile(?:[^\n]*\\\n)*[^\n]*$/m.exec(workflow)?.[0];
  assert(step !== undefined, "the workflow runs deno compile");
  const words = new Set(step.split(/[\s\\]+/));
  const args = compileTaskArgs();
  for (let i = 0; i < args.length; i++) {
    // The output is named per target; the entry point and what is included must be the same.
    if (args[i] === "--output") {
      i++;
      continue;
    }
    assert(words.has(args[i]), `release.yml's deno compile lacks ${args[i]}`);
  }
});
