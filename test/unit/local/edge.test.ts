// The Host names the local runner answers to, by the address HOST makes it bind (local/edge.ts).
import { checkHost, hostName, hostNames } from '../../../local/edge';

describe('the Host check', () => {
  it('reads the host part of a Host header or a bind address', () => {
    expect(['localhost:3000', 'LocalHost', '[::1]:80', '::1', '127.0.0.1:1'].map(hostName)).toEqual([
      'localhost',
      'localhost',
      '[::1]',
      '[::1]',
      '127.0.0.1',
    ]);
  });

  it('takes only the loopback names when bound to a loopback address', () => {
    for (const bind of ['127.0.0.1', 'localhost', '::1']) {
      const names = hostNames(bind);
      for (const ok of ['localhost:3000', '127.0.0.1', '[::1]:3000']) expect(() => checkHost(ok, names)).not.toThrow();
      expect(() => checkHost('attacker.example:3000', names)).toThrow(/not to attacker\.example:3000/);
      expect(() => checkHost(undefined, names)).toThrow('The request has no Host header.');
    }
  });

  it('takes the name HOST gives besides the loopback ones', () => {
    const names = hostNames('devbox.lan');
    expect(() => checkHost('devbox.lan:3000', names)).not.toThrow();
    expect(() => checkHost('localhost:3000', names)).not.toThrow();
    expect(() => checkHost('other.lan:3000', names)).toThrow(/MisdirectedRequest|answers to/);
  });

  it('takes any name when bound to every interface', () => {
    expect(hostNames('0.0.0.0')).toBe('any');
    expect(hostNames('::')).toBe('any');
    expect(() => checkHost('whatever.example', hostNames('0.0.0.0'))).not.toThrow();
  });
});
