/** The release workflow builds the executable as deno.json's `compile` task does. */
import { compileTaskArgs, REPO_ROOT } from "./compile_task.ts";
import { assert } from "./assert.ts";

Deno.test("release: the workflow's deno compile has every flag of the compile task", async () => {
  const workflow = await Deno.readTextFile(`${REPO_ROOT}.github/workflows/release.yml`);
  const step = workflow.slice(workflow.indexOf("deno compile"));
  assert(step.length > 0, "the workflow runs deno compile");
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
