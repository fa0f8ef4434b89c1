//! Values between BSON and JavaScript with their types intact: an ObjectId becomes a
//! `BSON.ObjectId` and back, an Int64 a `BSON.Long`, a date a `Date`, and so on.
//!
//! Numbers follow the JS driver: Int32 and Double become JS numbers; a JS number that is an
//! integer in the Int32 range becomes an Int32, any other number a Double (`BSON.Double(2)` stays
//! a Double). Conversion out of JS is bounded in size (`Budget`) and depth, so a huge or cyclic
//! value becomes an error rather than a memory or stack blow-up.

use bson::{oid::ObjectId, spec::BinarySubtype, Binary, Bson, DateTime, Decimal128, Document, JavaScriptCodeWithScope, Regex, Timestamp};
use rquickjs::object::Property;
use rquickjs::function::Constructor;
use rquickjs::{Array, ArrayBuffer, Ctx, Function, Object, TypedArray, Type, Value};

/// How deep documents and arrays may nest (MongoDB's own limit is 100).
pub const MAX_DEPTH: usize = 100;

/// Why a JS value could not become BSON.
#[derive(Debug)]
pub enum ConvError {
    /// Larger than the budget.
    TooLarge(usize),
    /// Nested deeper than `MAX_DEPTH` (or cyclic).
    TooDeep,
    /// Not representable (a message for the function's author).
    Invalid(String),
    /// The engine threw (an exception is pending).
    Js(rquickjs::Error),
}

impl From<rquickjs::Error> for ConvError {
    fn from(e: rquickjs::Error) -> ConvError {
        ConvError::Js(e)
    }
}

/// Bytes a conversion may still produce (roughly the BSON size).
pub struct Budget {
    left: usize,
    limit: usize,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget { left: limit, limit }
    }

    fn take(&mut self, n: usize) -> Result<(), ConvError> {
        self.left = self.left.checked_sub(n).ok_or(ConvError::TooLarge(self.limit))?;
        Ok(())
    }
}

/// The BSON classes of `js/bson.js`, fetched once when needed.
struct Classes<'js> {
    object_id: Constructor<'js>,
    long: Constructor<'js>,
    int32: Constructor<'js>,
    double: Constructor<'js>,
    decimal128: Constructor<'js>,
    binary: Constructor<'js>,
    uuid: Constructor<'js>,
    timestamp: Constructor<'js>,
    regexp: Constructor<'js>,
    min_key: Constructor<'js>,
    max_key: Constructor<'js>,
    code: Constructor<'js>,
    protos: Vec<(Kind, Object<'js>)>,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    ObjectId,
    Long,
    Int32,
    Double,
    Decimal128,
    Binary,
    Uuid,
    Timestamp,
    RegExp,
    MinKey,
    MaxKey,
    Code,
}

/// One conversion session inside a context (caches the classes and built-in prototypes).
pub struct Converter<'js> {
    ctx: Ctx<'js>,
    classes: Option<Classes<'js>>,
    object_proto: Option<Object<'js>>,
    /// `Date`, `RegExp`, `ArrayBuffer`.
    builtins: [Option<Constructor<'js>>; 3],
    /// Int64 becomes a JS number when it is a safe integer (EJSON's relaxed reading).
    pub relaxed: bool,
}

/// The BSON classes: the `BSON` global, which `lockdown.js` made read-only.
fn bson_ns<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    ctx.globals().get("BSON")
}

impl<'js> Converter<'js> {
    /// A converter for `ctx` (whose `core.js` is loaded).
    pub fn new(ctx: &Ctx<'js>) -> Converter<'js> {
        Converter { ctx: ctx.clone(), classes: None, object_proto: None, builtins: [None, None, None], relaxed: false }
    }

    fn classes(&mut self) -> rquickjs::Result<&Classes<'js>> {
        if self.classes.is_none() {
            let ns = bson_ns(&self.ctx)?;
            let get = |name: &str| -> rquickjs::Result<Constructor<'js>> { ns.get(name) };
            let c = Classes {
                object_id: get("ObjectId")?,
                long: get("Long")?,
                int32: get("Int32")?,
                double: get("Double")?,
                decimal128: get("Decimal128")?,
                binary: get("Binary")?,
                uuid: get("UUID")?,
                timestamp: get("Timestamp")?,
                regexp: get("BSONRegExp")?,
                min_key: get("MinKey")?,
                max_key: get("MaxKey")?,
                code: get("Code")?,
                protos: Vec::new(),
            };
            let mut protos = Vec::new();
            for (kind, f) in [
                (Kind::ObjectId, &c.object_id),
                (Kind::Long, &c.long),
                (Kind::Int32, &c.int32),
                (Kind::Double, &c.double),
                (Kind::Decimal128, &c.decimal128),
                (Kind::Uuid, &c.uuid),
                (Kind::Binary, &c.binary),
                (Kind::Timestamp, &c.timestamp),
                (Kind::RegExp, &c.regexp),
                (Kind::MinKey, &c.min_key),
                (Kind::MaxKey, &c.max_key),
                (Kind::Code, &c.code),
            ] {
                protos.push((kind, f.get::<_, Object>("prototype")?));
            }
            self.classes = Some(Classes { protos, ..c });
        }
        self.classes.as_ref().ok_or(rquickjs::Error::Unknown)
    }

    fn object_proto(&mut self) -> rquickjs::Result<Object<'js>> {
        if self.object_proto.is_none() {
            let object: Object = self.ctx.globals().get("Object")?;
            self.object_proto = Some(object.get("prototype")?);
        }
        self.object_proto.clone().ok_or(rquickjs::Error::Unknown)
    }

    fn builtin(&mut self, name: &'static str) -> rquickjs::Result<Constructor<'js>> {
        let at = match name {
            "Date" => 0,
            "RegExp" => 1,
            _ => 2,
        };
        if self.builtins[at].is_none() {
            self.builtins[at] = Some(self.ctx.globals().get(name)?);
        }
        self.builtins[at].clone().ok_or(rquickjs::Error::Unknown)
    }

    /// BSON → JS.
    pub fn js(&mut self, v: &Bson) -> rquickjs::Result<Value<'js>> {
        self.js_at(v, 0)
    }

    fn js_at(&mut self, v: &Bson, depth: usize) -> rquickjs::Result<Value<'js>> {
        let ctx = self.ctx.clone();
        if depth > MAX_DEPTH {
            return Err(rquickjs::Exception::throw_range(&ctx, "value nests too deeply"));
        }
        Ok(match v {
            Bson::Double(d) => Value::new_float(ctx, *d),
            Bson::Int32(i) => Value::new_int(ctx, *i),
            Bson::Int64(i) if self.relaxed && i.unsigned_abs() <= (1 << 53) => Value::new_number(ctx, *i as f64),
            Bson::Int64(i) => {
                let long = self.classes()?.long.clone();
                long.construct(((*i as u64 & 0xffff_ffff) as u32 as i32, (*i >> 32) as i32))?
            }
            Bson::String(s) | Bson::Symbol(s) => rquickjs::String::from_str(ctx, s)?.into_value(),
            Bson::Boolean(b) => Value::new_bool(ctx, *b),
            Bson::Null => Value::new_null(ctx),
            Bson::Undefined => Value::new_undefined(ctx),
            Bson::Array(items) => {
                let arr = Array::new(ctx)?;
                for (i, item) in items.iter().enumerate() {
                    arr.set(i, self.js_at(item, depth + 1)?)?;
                }
                arr.into_value()
            }
            Bson::Document(d) => self.document(d, depth)?.into_value(),
            Bson::ObjectId(oid) => self.classes()?.object_id.clone().construct((oid.to_hex(),))?,
            Bson::DateTime(dt) => self.builtin("Date")?.construct((dt.timestamp_millis() as f64,))?,
            Bson::RegularExpression(r) => self.classes()?.regexp.clone().construct((r.pattern.as_str(), r.options.as_str()))?,
            Bson::JavaScriptCode(code) => self.classes()?.code.clone().construct((code.as_str(),))?,
            Bson::JavaScriptCodeWithScope(c) => {
                let scope = self.document(&c.scope, depth)?;
                self.classes()?.code.clone().construct((c.code.as_str(), scope))?
            }
            Bson::Timestamp(ts) => {
                let init = Object::new(ctx)?;
                init.set("t", f64::from(ts.time))?;
                init.set("i", f64::from(ts.increment))?;
                self.classes()?.timestamp.clone().construct((init,))?
            }
            Bson::Binary(b) => {
                let bytes = TypedArray::<u8>::new_copy(ctx, &b.bytes)?;
                let sub = u8::from(b.subtype);
                if b.subtype == BinarySubtype::Uuid && b.bytes.len() == 16 {
                    self.classes()?.uuid.clone().construct((bytes,))?
                } else {
                    self.classes()?.binary.clone().construct((bytes, i32::from(sub)))?
                }
            }
            Bson::Decimal128(d) => {
                let bytes = TypedArray::<u8>::new_copy(ctx, d.bytes())?;
                self.classes()?.decimal128.clone().construct((bytes,))?
            }
            Bson::MinKey => self.classes()?.min_key.clone().construct(())?,
            Bson::MaxKey => self.classes()?.max_key.clone().construct(())?,
            // Deprecated: shown as its extended JSON document.
            Bson::DbPointer(_) => match v.clone().into_relaxed_extjson() {
                serde_json::Value::Object(m) => match Bson::try_from(serde_json::Value::Object(m)) {
                    Ok(Bson::Document(d)) => self.document(&d, depth)?.into_value(),
                    _ => Value::new_null(ctx),
                },
                _ => Value::new_null(ctx),
            },
        })
    }

    fn document(&mut self, d: &Document, depth: usize) -> rquickjs::Result<Object<'js>> {
        let obj = Object::new(self.ctx.clone())?;
        for (k, v) in d {
            let value = self.js_at(v, depth + 1)?;
            if k == "__proto__" {
                // A data property, not the prototype setter.
                obj.prop(k.as_str(), Property::from(value).writable().enumerable().configurable())?;
            } else {
                obj.set(k.as_str(), value)?;
            }
        }
        Ok(obj)
    }

    /// JS → BSON; `undefined` (and functions, symbols) become `null` at the top.
    pub fn bson(&mut self, v: &Value<'js>, budget: &mut Budget) -> Result<Bson, ConvError> {
        Ok(self.bson_at(v, budget, 0)?.unwrap_or(Bson::Null))
    }

    /// A document argument (`{...}`) for a service call.
    pub fn bson_document(&mut self, v: &Value<'js>, budget: &mut Budget) -> Result<Document, ConvError> {
        match self.bson(v, budget)? {
            Bson::Document(d) => Ok(d),
            _ => Err(ConvError::Invalid("expected an object".into())),
        }
    }

    /// `None` for values JSON leaves out (undefined, functions, symbols).
    fn bson_at(&mut self, v: &Value<'js>, budget: &mut Budget, depth: usize) -> Result<Option<Bson>, ConvError> {
        if depth > MAX_DEPTH {
            return Err(ConvError::TooDeep);
        }
        Ok(Some(match v.type_of() {
            Type::Undefined | Type::Uninitialized | Type::Function | Type::Constructor | Type::Symbol | Type::Module | Type::Unknown => {
                return Ok(None)
            }
            Type::Null => {
                budget.take(1)?;
                Bson::Null
            }
            Type::Bool => {
                budget.take(2)?;
                Bson::Boolean(v.as_bool().unwrap_or(false))
            }
            Type::Int => {
                budget.take(5)?;
                Bson::Int32(v.as_int().unwrap_or(0))
            }
            Type::Float => {
                budget.take(9)?;
                number(v.as_float().unwrap_or(f64::NAN))
            }
            Type::BigInt => {
                budget.take(9)?;
                let big = v.clone().into_big_int().ok_or(ConvError::Invalid("not a BigInt".into()))?;
                Bson::Int64(big.to_i64().map_err(|_| ConvError::Invalid("a BigInt outside the 64-bit range".into()))?)
            }
            Type::String => {
                let s = v.as_string().ok_or(ConvError::Invalid("not a string".into()))?;
                // Check the size before copying the text out of the engine.
                budget.take(js_length(&self.ctx, v).saturating_add(5))?;
                let text = s.to_string()?;
                Bson::String(text)
            }
            Type::Array => {
                let arr = v.as_array().ok_or(ConvError::Invalid("not an array".into()))?;
                budget.take(5)?;
                let mut out = Vec::new();
                for i in 0..arr.len() {
                    budget.take(2)?;
                    let item: Value = arr.get(i)?;
                    out.push(self.bson_at(&item, budget, depth + 1)?.unwrap_or(Bson::Null));
                }
                Bson::Array(out)
            }
            Type::Promise => return Err(ConvError::Invalid("a Promise cannot be stored or returned inside a value: await it first".into())),
            Type::Object | Type::Exception => {
                let obj = v.as_object().ok_or(ConvError::Invalid("not an object".into()))?.clone();
                return self.object_from_js(&obj, budget, depth).map(Some);
            }
        }))
    }

    fn object_from_js(&mut self, obj: &Object<'js>, budget: &mut Budget, depth: usize) -> Result<Bson, ConvError> {
        let proto = obj.get_prototype();
        let plain = match &proto {
            None => true,
            Some(p) => *p == self.object_proto()?,
        };
        if !plain {
            if let Some(b) = self.special(obj, proto.as_ref(), budget)? {
                return Ok(b);
            }
        }
        budget.take(5)?;
        let mut doc = Document::new();
        let keys: Vec<String> = obj.keys::<String>().collect::<rquickjs::Result<_>>()?;
        for key in keys {
            budget.take(key.len() + 2)?;
            let value: Value = obj.get(key.as_str())?;
            if let Some(b) = self.bson_at(&value, budget, depth + 1)? {
                doc.insert(key, b);
            }
        }
        Ok(Bson::Document(doc))
    }

    /// Dates, regular expressions, byte arrays and the BSON classes.
    fn special(&mut self, obj: &Object<'js>, proto: Option<&Object<'js>>, budget: &mut Budget) -> Result<Option<Bson>, ConvError> {
        if obj.is_instance_of(self.builtin("Date")?) {
            budget.take(9)?;
            let get_time: Function = obj.get("getTime")?;
            let ms: f64 = get_time.call((rquickjs::function::This(obj.clone()),))?;
            if !ms.is_finite() {
                return Err(ConvError::Invalid("an invalid Date".into()));
            }
            return Ok(Some(Bson::DateTime(DateTime::from_millis(ms as i64))));
        }
        if obj.is_instance_of(self.builtin("RegExp")?) {
            let source: String = obj.get("source")?;
            let flags: String = obj.get("flags")?;
            budget.take(source.len() + flags.len() + 2)?;
            let mut options: Vec<char> = flags.chars().filter(|c| matches!(c, 'i' | 'm' | 's' | 'u')).collect();
            options.sort_unstable();
            return Ok(Some(Bson::RegularExpression(Regex { pattern: source, options: options.into_iter().collect() })));
        }
        if let Ok(bytes) = TypedArray::<u8>::from_object(obj.clone()) {
            let data = bytes.as_bytes().ok_or(ConvError::Invalid("a detached byte array".into()))?;
            budget.take(data.len() + 5)?;
            return Ok(Some(Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: data.to_vec() })));
        }
        // (`ArrayBuffer::from_object` would throw for any other object.)
        if obj.is_instance_of(self.builtin("ArrayBuffer")?) {
            let buf = ArrayBuffer::from_object(obj.clone()).ok_or(ConvError::Invalid("a detached ArrayBuffer".into()))?;
            let data = buf.as_bytes().ok_or(ConvError::Invalid("a detached ArrayBuffer".into()))?;
            budget.take(data.len() + 5)?;
            return Ok(Some(Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: data.to_vec() })));
        }
        let Some(proto) = proto else { return Ok(None) };
        let kind = self.classes()?.protos.iter().find(|(_, p)| p == proto).map(|(k, _)| *k);
        let Some(kind) = kind else { return Ok(None) };
        budget.take(17)?;
        let bad = |what: &str| ConvError::Invalid(format!("a malformed BSON.{what}"));
        Ok(Some(match kind {
            Kind::ObjectId => {
                let hex: String = obj.get::<_, Function>("toHexString")?.call((rquickjs::function::This(obj.clone()),))?;
                Bson::ObjectId(ObjectId::parse_str(&hex).map_err(|_| bad("ObjectId"))?)
            }
            Kind::Long | Kind::Timestamp => {
                let (low, high): (f64, f64) = if kind == Kind::Long { (obj.get("low")?, obj.get("high")?) } else { (obj.get("i")?, obj.get("t")?) };
                if kind == Kind::Long {
                    Bson::Int64((((high as i64) << 32) as u64 | (low as i64 as u64 & 0xffff_ffff)) as i64)
                } else {
                    Bson::Timestamp(Timestamp { time: high as u32, increment: low as u32 })
                }
            }
            Kind::Int32 => Bson::Int32(obj.get::<_, f64>("value")? as i32),
            Kind::Double => Bson::Double(obj.get("value")?),
            Kind::Decimal128 => {
                let bytes = TypedArray::<u8>::from_object(obj.get("bytes")?).map_err(|_| bad("Decimal128"))?;
                let raw: [u8; 16] = bytes.as_bytes().and_then(|b| b.try_into().ok()).ok_or_else(|| bad("Decimal128"))?;
                Bson::Decimal128(Decimal128::from_bytes(raw))
            }
            Kind::Binary | Kind::Uuid => {
                let bytes = TypedArray::<u8>::from_object(obj.get("buffer")?).map_err(|_| bad("Binary"))?;
                let data = bytes.as_bytes().ok_or_else(|| bad("Binary"))?;
                budget.take(data.len())?;
                let sub: f64 = obj.get("sub_type")?;
                Bson::Binary(Binary { subtype: BinarySubtype::from(sub as u8), bytes: data.to_vec() })
            }
            Kind::RegExp => Bson::RegularExpression(Regex { pattern: obj.get("pattern")?, options: obj.get("options")? }),
            Kind::MinKey => Bson::MinKey,
            Kind::MaxKey => Bson::MaxKey,
            Kind::Code => {
                let code: String = obj.get("code")?;
                budget.take(code.len())?;
                let scope: Value = obj.get("scope")?;
                match scope.as_object() {
                    Some(s) => match self.object_from_js(s, budget, 1)? {
                        Bson::Document(scope) => Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code, scope }),
                        _ => Bson::JavaScriptCode(code),
                    },
                    None => Bson::JavaScriptCode(code),
                }
            }
        }))
    }
}

/// The `length` of a JS string, without copying it.
fn js_length<'js>(ctx: &Ctx<'js>, v: &Value<'js>) -> usize {
    // SAFETY: `v` is a live value of `ctx`; the property read returns a new value that
    // `Value::from_raw` takes ownership of (and frees).
    let length = unsafe {
        let raw = rquickjs::qjs::JS_GetPropertyStr(ctx.as_raw().as_ptr(), v.as_raw(), c"length".as_ptr());
        Value::from_raw(ctx.clone(), raw)
    };
    length.as_int().map_or(0, |n| usize::try_from(n).unwrap_or(0))
}

/// A JS number as BSON: an integer in the Int32 range is an Int32, anything else a Double.
pub fn number(f: f64) -> Bson {
    if f.fract() == 0.0 && f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX) && !(f == 0.0 && f.is_sign_negative()) {
        Bson::Int32(f as i32)
    } else {
        Bson::Double(f)
    }
}
