// The install form of an external service (its `config-form.json`): the values a person
// starts from, the checks the browser can make before asking Luna (which checks again and
// has the last word), and Luna's own answers placed on the fields they name.
import type { Schemas } from './api/client';

export type Field = Schemas['Field'];
export type Value = string | boolean;
export type Values = Record<string, Value>;
export type Problems = Record<string, string>;

/** What the form shows before the person types: defaults, empty generated secrets. */
export function initialValues(fields: Field[]): Values {
  const values: Values = {};
  for (const field of fields) {
    if (field.type === 'checkbox') values[field.name] = field.default === true;
    else if (field.default === undefined || field.default === null) values[field.name] = '';
    else values[field.name] = String(field.default);
  }
  return values;
}

/** The problems the browser can see; empty when the form may be sent. */
export function check(fields: Field[], values: Values): Problems {
  const problems: Problems = {};
  for (const field of fields) {
    const value = values[field.name];
    if (field.type === 'checkbox') continue;
    const text = typeof value === 'string' ? value.trim() : '';
    if (text === '') {
      if (field.required && !field.generate) problems[field.name] = 'required';
      continue;
    }
    if (field.type === 'number') {
      const number = Number(text);
      if (!Number.isFinite(number)) problems[field.name] = 'must be a number';
      else if (field.min != null && number < field.min) problems[field.name] = `must be at least ${field.min}`;
      else if (field.max != null && number > field.max) problems[field.name] = `must be at most ${field.max}`;
    } else if (field.type === 'select') {
      if (!(field.options ?? []).includes(text)) problems[field.name] = `must be one of ${(field.options ?? []).join(', ')}`;
    } else if (field.pattern && !matchesWhole(field.pattern, text)) {
      problems[field.name] = `must match ${field.pattern}`;
    }
  }
  return problems;
}

function matchesWhole(pattern: string, text: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u').test(text);
  } catch {
    // A pattern JavaScript cannot read: Luna's check decides.
    return true;
  }
}

/** The values as the API takes them: numbers as numbers, empty fields left out (so Luna
 * fills in defaults and generates secrets). */
export function submission(fields: Field[], values: Values): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field.name];
    if (field.type === 'checkbox') config[field.name] = value === true;
    else if (typeof value === 'string' && value.trim() !== '') {
      config[field.name] = field.type === 'number' ? Number(value.trim()) : value;
    }
  }
  return config;
}

/** Luna's `field: problem` lines put on their fields; lines naming no field stay general. */
export function placeProblems(fields: Field[], lines: string[]): { fields: Problems; general: string[] } {
  const placed: Problems = {};
  const general: string[] = [];
  for (const line of lines) {
    const at = line.indexOf(': ');
    const name = at > 0 ? line.slice(0, at) : '';
    if (fields.some((field) => field.name === name)) placed[name] = line.slice(at + 2);
    else general.push(line);
  }
  return { fields: placed, general };
}
