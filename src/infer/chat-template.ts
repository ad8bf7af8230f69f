/**
 * Chat templates come from untrusted tokenizer_config.json files, and @huggingface/jinja renders
 * synchronously: nothing can cut a render off from outside. So the render runs in an interpreter
 * that checks its own budget as it goes: evaluation steps, wall time, nesting depth, the size of
 * every string and list it builds (and the total it builds), and every number (all sizes a
 * template can ask for, such as `range(n)` or `indent(n)`, are numbers). Exceeding any bound, or
 * any error inside the template, ends in an InferError naming tokenizer_config.json.
 */
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { InferError } from './errors';

export const CHAT_TEMPLATE_BOUNDS = {
  /** Characters of output (and of any one string the template builds). */
  maxChars: 1_000_000,
  /** Items in any one list (range() included); also the most loop iterations between two checks. */
  maxItems: 10_000,
  /** Magnitude of any number the template computes. */
  maxNumber: 1_000_000,
  /** Characters and list items built in total, summed over every step. */
  maxWork: 16_000_000,
  /** Expression and statement evaluations. */
  maxSteps: 200_000,
  /** Nesting of evaluations (macros calling macros…). */
  maxDepth: 400,
  /** Wall time of one render. */
  maxMillis: 1_000,
} as const;

type Bounds = typeof CHAT_TEMPLATE_BOUNDS;
type Statement = Parameters<Interpreter['evaluate']>[0];
type RuntimeValue = ReturnType<Interpreter['evaluate']>;

/** Raised inside the interpreter when a bound is exceeded; turned into an InferError by the caller. */
class BudgetExceeded extends Error {}

class BoundedInterpreter extends Interpreter {
  private steps = 0;
  private depth = 0;
  private work = 0;
  private readonly deadline: number;

  constructor(
    env: Environment,
    private readonly bounds: Bounds,
  ) {
    super(env);
    this.deadline = performance.now() + bounds.maxMillis;
  }

  override evaluate(statement: Statement, environment: Environment): RuntimeValue {
    const b = this.bounds;
    if (++this.steps > b.maxSteps) throw new BudgetExceeded(`it takes more than ${b.maxSteps} evaluation steps`);
    // The clock is read often: a loop's iterations are not evaluations themselves, so an empty
    // body of up to maxItems iterations runs between two steps.
    if ((this.steps & 15) === 0 && performance.now() > this.deadline)
      throw new BudgetExceeded(`it runs longer than ${b.maxMillis} ms`);
    if (++this.depth > b.maxDepth) throw new BudgetExceeded(`it nests deeper than ${b.maxDepth} levels`);
    try {
      return this.checked(super.evaluate(statement, environment));
    } finally {
      this.depth--;
    }
  }

  private checked(v: RuntimeValue): RuntimeValue {
    const b = this.bounds;
    if (v.type === 'IntegerValue' || v.type === 'FloatValue') {
      const n = v.value as number;
      if (!(Math.abs(n) <= b.maxNumber)) throw new BudgetExceeded(`it computes ${n}, beyond ±${b.maxNumber}`);
    } else if (v.type === 'StringValue' || v.type === 'ArrayValue') {
      const size = (v.value as string | unknown[]).length;
      const limit = v.type === 'StringValue' ? b.maxChars : b.maxItems;
      if (size > limit)
        throw new BudgetExceeded(
          `it builds a ${v.type === 'StringValue' ? 'string' : 'list'} of ${size}, beyond ${limit}`,
        );
      this.work += size;
      if (this.work > b.maxWork)
        throw new BudgetExceeded(`it builds more than ${b.maxWork} characters and items in all`);
    }
    return v;
  }
}

/** Python's range, refusing lists longer than `maxItems` before building them. */
function boundedRange(maxItems: number) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) [start, stop] = [0, start];
    if (![start, stop, step].every(Number.isInteger) || step === 0)
      throw new Error('range() needs integer arguments and a non-zero step');
    const length = Math.max(0, Math.ceil((stop - start) / step));
    if (length > maxItems) throw new BudgetExceeded(`range() of ${length} items, beyond ${maxItems}`);
    return Array.from({ length }, (_, i) => start + i * step);
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** strftime for the directives chat templates use to stamp today's date. */
function strftimeNow(format: string): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const parts: Record<string, string> = {
    '%Y': String(d.getFullYear()),
    '%m': pad(d.getMonth() + 1),
    '%d': pad(d.getDate()),
    '%b': MONTHS[d.getMonth()]!,
    '%H': pad(d.getHours()),
    '%M': pad(d.getMinutes()),
    '%%': '%',
  };
  return String(format).replace(/%[YmdbHM%]/g, (t) => parts[t]!);
}

function globals(env: Environment, bounds: Bounds): void {
  const set = (name: string, v: unknown) => env.set(name, v);
  for (const [name, v] of [
    ['true', true],
    ['false', false],
    ['none', null],
    ['True', true],
    ['False', false],
    ['None', null],
  ] as const)
    set(name, v);
  set('raise_exception', (message: unknown) => {
    throw new Error(`raise_exception(${JSON.stringify(String(message))})`);
  });
  set('range', boundedRange(bounds.maxItems));
  set('strftime_now', strftimeNow);
}

/** Parses a chat template; a template that does not parse is an InferError naming `file`. */
export function parseChatTemplate(text: string, file: string): Template {
  try {
    return new Template(text);
  } catch (e) {
    throw new InferError('chat-template', `${file}: the chat_template does not parse (${(e as Error).message})`, {
      file,
    });
  }
}

/** Renders within `bounds`; any failure or exceeded bound is an InferError naming `file`. */
export function renderChatTemplate(
  template: Template,
  context: Record<string, unknown>,
  file: string,
  bounds: Bounds = CHAT_TEMPLATE_BOUNDS,
): string {
  try {
    const env = new Environment();
    globals(env, bounds);
    for (const [k, v] of Object.entries(context)) env.set(k, v);
    const out = new BoundedInterpreter(env, bounds).run(template.parsed);
    return String(out.value);
  } catch (e) {
    const why =
      e instanceof BudgetExceeded
        ? `the chat_template was stopped: ${e.message}`
        : `the chat_template failed (${e instanceof Error ? e.message : String(e)})`;
    throw new InferError('chat-template', `${file}: ${why}`, { file });
  }
}
