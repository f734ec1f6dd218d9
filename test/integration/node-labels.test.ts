// Traits and aggregates on PUT /nodes (rule G1): kept, shown, replaced by the next PUT, refused when malformed.
import { api } from '../support/api';
import { N0 } from '../support/fixtures';
import { freshTable } from '../support/table';

beforeAll(async () => {
  await freshTable('labels');
});

test('a node keeps the traits and aggregates of its last PUT', async () => {
  const put = await api('PUT', '/nodes/lab-1', {
    ...N0,
    traits: ['HW_CPU_X86_AVX2', 'CUSTOM_GPU'],
    aggregates: ['az1'],
  });
  expect(put.status).toBe(201);
  expect(put.body).toMatchObject({ traits: ['HW_CPU_X86_AVX2', 'CUSTOM_GPU'], aggregates: ['az1'] });
  expect((await api('GET', '/nodes/lab-1')).body).toMatchObject({ traits: ['HW_CPU_X86_AVX2', 'CUSTOM_GPU'] });
  const again = await api('PUT', '/nodes/lab-1', { ...N0, traits: ['CUSTOM_GPU'] });
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ traits: ['CUSTOM_GPU'], aggregates: [] });
});

test('an audit with an inventory leaves the labels as they are', async () => {
  await api('PUT', '/nodes/lab-2', { ...N0, traits: ['CUSTOM_X'], aggregates: ['rack-7'] });
  expect((await api('POST', '/nodes/lab-2/audit', { inventory: { ...N0, vcpus: 8 } })).status).toBe(200);
  expect((await api('GET', '/nodes/lab-2')).body).toMatchObject({
    vcpus: 8,
    traits: ['CUSTOM_X'],
    aggregates: ['rack-7'],
  });
});

test.each([
  [{ traits: ['lower_case'] }, 'traits.0'],
  [{ traits: ['A', 'A'] }, 'traits'],
  [{ aggregates: ['-bad'] }, 'aggregates.0'],
  [{ traits: 'CUSTOM_X' }, 'traits'],
])('a malformed label %j is 400 and registers nothing', async (labels, path) => {
  const reply = await api('PUT', '/nodes/lab-bad', { ...N0, ...labels });
  expect(reply.status).toBe(400);
  expect(reply.body.issues[0].path).toBe(path);
  expect((await api('GET', '/nodes/lab-bad')).status).toBe(404);
});
