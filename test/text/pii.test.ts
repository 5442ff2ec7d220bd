import { describe, expect, it } from 'vitest';
import { findPii, luhnValid, maskPii, rrnChecksumValid } from '../../src/text/pii.ts';

// Synthetic numbers: the RRN only has a valid checksum, the card only passes Luhn.
const RRN = '900101-1234568';
const CARD = '4111-1111-1111-1111';

describe('checksums', () => {
  it('validates 주민등록번호 checksums', () => {
    expect(rrnChecksumValid('9001011234568')).toBe(true);
    expect(rrnChecksumValid('9001011234567')).toBe(false);
  });
  it('validates card numbers with Luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
  });
});

describe('findPii / maskPii', () => {
  it('masks every PII type with a typed placeholder', () => {
    const text = `메일 hong.gildong@example.co.kr, 휴대폰 010-1234-5678, 집 02-345-6789, 주민번호 ${RRN}, 카드 ${CARD}, 서버 192.168.0.12, v6 2001:db8:85a3::8a2e:370:7334 입니다.`;
    const { text: masked, spans } = maskPii(text);
    expect(spans.map((s) => s.type)).toEqual(['EMAIL', 'PHONE', 'PHONE', 'RRN', 'CARD', 'IP', 'IP']);
    expect(masked).toBe('메일 [EMAIL], 휴대폰 [PHONE], 집 [PHONE], 주민번호 [RRN], 카드 [CARD], 서버 [IP], v6 [IP] 입니다.');
  });

  it('finds phone numbers without hyphens, with dots, and in +82 form', () => {
    for (const p of ['01012345678', '010.1234.5678', '+82-10-1234-5678', '031-123-4567', '(02) 345-6789', '070-1234-5678']) {
      expect(findPii(`연락처는 ${p}입니다`).map((s) => s.type), p).toEqual(['PHONE']);
    }
  });

  it('rejects RRNs with a bad checksum or an impossible date unless rrnChecksum is off', () => {
    expect(findPii('번호 900101-1234567')).toEqual([]);
    expect(findPii('번호 901332-1234568')).toEqual([]);
    expect(findPii('번호 900101-1234567', { rrnChecksum: false }).map((s) => s.type)).toEqual(['RRN']);
  });

  it('leaves look-alikes alone: prices, dates, versions, times, non-Luhn order numbers', () => {
    const text = '관리비 234,500원, 회의 2024-05-17 11:45:00, 파이썬 3.12.4, 주문 번호 2024051712345679, 슬라이스 nums[::-1], 버전 1.2.3.4.5';
    expect(findPii(text)).toEqual([]);
  });

  it('limits the search to the requested types', () => {
    expect(findPii('a@b.co 010-1234-5678', { types: ['PHONE'] }).map((s) => s.type)).toEqual(['PHONE']);
  });
});
