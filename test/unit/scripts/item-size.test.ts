// DynamoDB's item-size rules (docs/store.md, rule CU1) against the documented rules and worked examples.
import { marshall } from '@aws-sdk/util-dynamodb';
import { itemSize, numberSize, readUnits, valueSize, writeUnits } from '../../support/item-size';

describe('item sizes (rule CU1)', () => {
  test('a string is its name plus its UTF-8 bytes', () => {
    expect(itemSize({ name: { S: 'abc' } })).toBe(4 + 3);
    expect(itemSize({ é: { S: 'ü€' } })).toBe(2 + 2 + 3);
  });

  test('a number is 1 byte per two significant digits plus 1, zeros at either end trimmed', () => {
    expect(numberSize('27')).toBe(2);
    expect(numberSize('2099')).toBe(3);
    expect(numberSize('12345')).toBe(4);
    expect(numberSize('1000000')).toBe(2);
    expect(numberSize('0.0012')).toBe(2);
    expect(numberSize('-7')).toBe(2);
  });

  test('null and booleans are 1 byte; binary its raw bytes; sets the sum of their members', () => {
    expect(valueSize({ NULL: true })).toBe(1);
    expect(valueSize({ BOOL: false })).toBe(1);
    expect(valueSize({ B: new Uint8Array(10) })).toBe(10);
    expect(valueSize({ SS: ['ab', 'cde'] })).toBe(5);
    expect(valueSize({ NS: ['1', '12345'] })).toBe(2 + 4);
  });

  test('a list or map costs 3 bytes, each element 1 more (a map element its key too)', () => {
    expect(valueSize({ M: {} })).toBe(3);
    expect(valueSize({ L: [] })).toBe(3);
    expect(valueSize({ L: [{ S: 'ab' }, { N: '1' }] })).toBe(3 + (2 + 1) + (2 + 1));
    expect(itemSize({ stats: { M: { num_instances: { N: '3' } } } })).toBe(5 + 3 + 13 + 2 + 1);
  });

  test('the worked examples of two published item sizers', () => {
    // dyno-item-size's README: { string: 'string', number: 27, buffer: Buffer('buffer') } is 32 bytes.
    expect(itemSize(marshall({ string: 'string', number: 27, buffer: Buffer.from('buffer') }))).toBe(32);
    // ddbitemsizer's README: this slot item is 141 bytes.
    const slot = {
      itemType: 'SLOT',
      id: 'abc1231',
      hostName: 'Harry Mason',
      timeSlot: 'February 23, 1999',
      slotStatus: 'OPEN',
      createdAt: 'February 1, 1999',
      updatedAt: 'February 1, 1999',
      expiresAt: 2099,
    };
    expect(itemSize(marshall(slot))).toBe(141);
  });
});

describe('capacity units (rule CU2)', () => {
  test('writes: 1 unit per started KB, 2 per started KB of each item in a transaction', () => {
    expect(writeUnits(1, false)).toBe(1);
    expect(writeUnits(1024, false)).toBe(1);
    expect(writeUnits(1025, false)).toBe(2);
    expect(writeUnits(985, true)).toBe(2);
    expect(writeUnits(3500, true)).toBe(8);
  });

  test('reads: 1 unit per started 4 KB strongly consistent, half eventually consistent, 2 in a transaction', () => {
    expect(readUnits(100, 'strong')).toBe(1);
    expect(readUnits(4097, 'strong')).toBe(2);
    expect(readUnits(4097, 'eventual')).toBe(1);
    expect(readUnits(100, 'transactional')).toBe(2);
    expect(readUnits(0, 'eventual')).toBe(0.5);
  });
});
