import { describe, expect, it } from 'vitest';
import { check, initialValues, placeProblems, submission, type Field } from './form';

const field = (overrides: Partial<Field> & Pick<Field, 'name' | 'type'>): Field => ({
  required: false,
  options: [],
  generate: false,
  immutable: false,
  ...overrides,
});

const fields: Field[] = [
  field({ name: 'database', type: 'text', default: 'luna', required: true, pattern: '[a-z_][a-z0-9_]{0,62}' }),
  field({ name: 'password', type: 'password', generate: true, required: true }),
  field({ name: 'port', type: 'number', default: 5432, min: 1024, max: 65535, required: true }),
  field({ name: 'tier', type: 'select', options: ['small', 'large'], default: 'small' }),
  field({ name: 'backups', type: 'checkbox' }),
];

describe('the install form', () => {
  it('starts from the defaults, with generated secrets left empty', () => {
    expect(initialValues(fields)).toEqual({ database: 'luna', password: '', port: '5432', tier: 'small', backups: false });
  });

  it('accepts its own defaults', () => {
    expect(check(fields, initialValues(fields))).toEqual({});
  });

  it('names each bad field with what is wrong', () => {
    const values = { ...initialValues(fields), database: 'Bad-Name', port: '80', tier: 'huge' };
    expect(check(fields, values)).toEqual({
      database: 'must match [a-z_][a-z0-9_]{0,62}',
      port: 'must be at least 1024',
      tier: 'must be one of small, large',
    });
  });

  it('matches a pattern against the whole value, as Luna does', () => {
    expect(check(fields, { ...initialValues(fields), database: 'ok; drop' }).database).toBeDefined();
  });

  it('requires a required field unless Luna generates it', () => {
    const values = { ...initialValues(fields), database: ' ', password: '' };
    expect(check(fields, values)).toEqual({ database: 'required' });
    expect(check(fields, { ...initialValues(fields), port: 'x' })).toEqual({ port: 'must be a number' });
  });

  it('sends numbers as numbers and leaves empty fields to Luna', () => {
    expect(submission(fields, initialValues(fields))).toEqual({ database: 'luna', port: 5432, tier: 'small', backups: false });
  });

  it("puts Luna's problems on the fields they name", () => {
    const placed = placeProblems(fields, ['port: must be at most 65535', 'image: cannot be pulled', 'oops']);
    expect(placed).toEqual({ fields: { port: 'must be at most 65535' }, general: ['image: cannot be pulled', 'oops'] });
  });
});
