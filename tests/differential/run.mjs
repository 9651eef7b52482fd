// Runs one case through aws-local-stepfunctions, an independent ASL executor, for the
// differential tests: reads {definition, input, context} on stdin, prints {output} or {error}.
// Wait states and retry intervals do not sleep; every Task state echoes its input as {echo}.
import { StateMachine } from 'aws-local-stepfunctions';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { definition, input, context } = JSON.parse(Buffer.concat(chunks).toString());

const waitTimeOverrides = {};
const retryIntervalOverrides = {};
const taskResourceLocalHandlers = {};
const walk = (machine) => {
  for (const [name, state] of Object.entries(machine.States ?? {})) {
    if (state.Type === 'Wait') waitTimeOverrides[name] = 0;
    if (state.Retry) retryIntervalOverrides[name] = 0;
    if (state.Type === 'Task') taskResourceLocalHandlers[name] = async (taskInput) => ({ echo: taskInput });
    for (const branch of state.Branches ?? []) walk(branch);
    if (state.ItemProcessor) walk(state.ItemProcessor);
    if (state.Iterator) walk(state.Iterator);
  }
};
walk(definition);

try {
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  const execution = machine.run(input, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
    context,
  });
  const output = await execution.result;
  console.log(JSON.stringify({ output }));
} catch (e) {
  const error = e.cause ?? e;
  console.log(JSON.stringify({ error: { Error: error.name, Cause: error.message }, raw: String(e) }));
}
