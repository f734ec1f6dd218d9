// Duplicate keys in a JSON body (issue 13, item 10): found wherever they are, compared as decoded.
import { duplicateKey } from '../../../lib/api/json-keys';

test.each([
  ['{"a": 1, "b": 2}', undefined],
  ['{"a": {"b": 1}, "b": {"a": 1}}', undefined],
  ['[{"a": 1}, {"a": 2}]', undefined],
  ['{"a": "\\"a\\": 1, \\"a\\"", "b": ["a", "a"]}', undefined],
  ['{}', undefined],
  ['[{}, "a", {"a": 1, "b": [], "c": {}}]', undefined],
  ['{"a": 1, "a": 2}', ['a']],
  ['{"a": 1, "\\u0061": 2}', ['a']],
  ['{"f": {"v": 1, "m": 2, "v": 3}}', ['f', 'v']],
  ['{"r": [{"s": [{"x": 1}]}, {"s": [{"x": 1}, {"x": 1, "x": 2}]}]}', ['r', '1', 's', '1', 'x']],
  ['{"a": [], "b": {}, "a": null}', ['a']],
])('%s', (text, path) => {
  JSON.parse(text); // the scanner is given valid JSON only
  expect(duplicateKey(text)).toEqual(path);
});
